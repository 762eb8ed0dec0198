build-dev/obj/src/service/accounts.o: src/service/accounts.c \
 src/service/accounts.h src/base/arena.h src/base/err.h src/service/app.h \
 src/base/config.h src/crypto/crypto.h src/store/db.h src/store/store.h \
 src/base/buf.h src/store/privacy.h src/base/log.h src/base/timeutil.h \
 src/service/accounts_int.h src/service/device.h src/service/mail.h \
 src/service/password.h src/service/vault.h
src/service/accounts.h:
src/base/arena.h:
src/base/err.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/store/store.h:
src/base/buf.h:
src/store/privacy.h:
src/base/log.h:
src/base/timeutil.h:
src/service/accounts_int.h:
src/service/device.h:
src/service/mail.h:
src/service/password.h:
src/service/vault.h:
