build-dev/obj/src/service/oidc.o: src/service/oidc.c src/service/oidc.h \
 src/base/err.h src/service/accounts.h src/base/arena.h src/service/app.h \
 src/base/config.h src/crypto/crypto.h src/store/db.h src/store/store.h \
 src/base/buf.h src/base/log.h src/base/timeutil.h src/crypto/jwt.h \
 src/service/accounts_int.h src/service/vault.h
src/service/oidc.h:
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
src/crypto/jwt.h:
src/service/accounts_int.h:
src/service/vault.h:
