build-dev/obj/src/service/twofa.o: src/service/twofa.c \
 src/service/twofa.h src/base/err.h src/service/accounts.h \
 src/base/arena.h src/service/app.h src/base/config.h src/crypto/crypto.h \
 src/store/db.h src/store/store.h src/base/buf.h src/base/log.h \
 src/base/timeutil.h src/crypto/totp.h src/service/mail.h \
 src/service/password.h src/service/vault.h
src/service/twofa.h:
src/base/err.h:
src/service/accounts.h:
src/base/arena.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/store/store.h:
src/base/buf.h:
src/base/log.h:
src/base/timeutil.h:
src/crypto/totp.h:
src/service/mail.h:
src/service/password.h:
src/service/vault.h:
