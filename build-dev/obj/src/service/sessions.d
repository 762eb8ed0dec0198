build-dev/obj/src/service/sessions.o: src/service/sessions.c \
 src/base/log.h src/base/timeutil.h src/service/accounts.h \
 src/base/arena.h src/base/err.h src/service/app.h src/base/config.h \
 src/crypto/crypto.h src/store/db.h src/store/store.h src/base/buf.h \
 src/service/accounts_int.h src/service/device.h src/service/mail.h \
 src/store/privacy.h src/service/password.h
src/base/log.h:
src/base/timeutil.h:
src/service/accounts.h:
src/base/arena.h:
src/base/err.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/store/store.h:
src/base/buf.h:
src/service/accounts_int.h:
src/service/device.h:
src/service/mail.h:
src/store/privacy.h:
src/service/password.h:
