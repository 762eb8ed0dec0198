build-dev/obj/src/api/twofa.o: src/api/twofa.c src/api/api.h \
 src/base/err.h src/http/http.h src/base/arena.h src/base/buf.h \
 src/service/app.h src/base/config.h src/crypto/crypto.h src/store/db.h \
 src/crypto/totp.h src/service/twofa.h src/service/accounts.h \
 src/store/store.h
src/api/api.h:
src/base/err.h:
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/crypto/totp.h:
src/service/twofa.h:
src/service/accounts.h:
src/store/store.h:
