build-dev/obj/src/api/upstream.o: src/api/upstream.c src/api/upstream.h \
 src/api/textreq.h src/base/arena.h src/base/err.h \
 src/engine/llm/template.h src/base/buf.h src/base/config.h \
 src/http/http.h src/service/app.h src/crypto/crypto.h src/store/db.h \
 src/api/api.h src/base/log.h src/base/timeutil.h src/service/credits.h \
 src/service/usage.h src/store/store.h
src/api/upstream.h:
src/api/textreq.h:
src/base/arena.h:
src/base/err.h:
src/engine/llm/template.h:
src/base/buf.h:
src/base/config.h:
src/http/http.h:
src/service/app.h:
src/crypto/crypto.h:
src/store/db.h:
src/api/api.h:
src/base/log.h:
src/base/timeutil.h:
src/service/credits.h:
src/service/usage.h:
src/store/store.h:
