build-dev/obj/src/api/privacy.o: src/api/privacy.c src/api/api.h \
 src/base/err.h src/http/http.h src/base/arena.h src/base/buf.h \
 src/service/app.h src/base/config.h src/crypto/crypto.h src/store/db.h \
 src/base/timeutil.h src/service/privacy.h src/store/privacy.h \
 src/service/usage.h src/store/store.h
src/api/api.h:
src/base/err.h:
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/base/timeutil.h:
src/service/privacy.h:
src/store/privacy.h:
src/service/usage.h:
src/store/store.h:
