build-dev/obj/src/api/chat.o: src/api/chat.c src/api/api.h src/base/err.h \
 src/http/http.h src/base/arena.h src/base/buf.h src/service/app.h \
 src/base/config.h src/crypto/crypto.h src/store/db.h src/api/textreq.h \
 src/engine/llm/template.h src/api/upstream.h src/base/log.h \
 src/base/timeutil.h src/service/credits.h src/service/textmodels.h \
 src/service/textgen.h src/engine/llm/generate.h src/engine/llm/model.h \
 src/engine/gguf.h src/engine/tensor.h src/engine/llm/sampler.h \
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
src/api/textreq.h:
src/engine/llm/template.h:
src/api/upstream.h:
src/base/log.h:
src/base/timeutil.h:
src/service/credits.h:
src/service/textmodels.h:
src/service/textgen.h:
src/engine/llm/generate.h:
src/engine/llm/model.h:
src/engine/gguf.h:
src/engine/tensor.h:
src/engine/llm/sampler.h:
src/service/usage.h:
src/store/store.h:
