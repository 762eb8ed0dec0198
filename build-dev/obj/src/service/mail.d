build-dev/obj/src/service/mail.o: src/service/mail.c src/service/mail.h \
 src/base/buf.h src/base/err.h src/service/app.h src/base/config.h \
 src/crypto/crypto.h src/store/db.h src/base/log.h src/base/timeutil.h \
 src/service/vault.h src/store/store.h
src/service/mail.h:
src/base/buf.h:
src/base/err.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/base/log.h:
src/base/timeutil.h:
src/service/vault.h:
src/store/store.h:
