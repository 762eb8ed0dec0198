build-dev/obj/src/serve.o: src/serve.c src/api/api.h src/base/err.h \
 src/http/http.h src/base/arena.h src/base/buf.h src/service/app.h \
 src/base/config.h src/crypto/crypto.h src/store/db.h src/base/config.h \
 src/base/log.h src/base/timeutil.h src/crypto/crypto.h src/http/http.h \
 src/main_cmds.h src/service/accounts.h src/store/store.h \
 src/service/app.h src/service/credits.h src/service/mail.h \
 src/service/privacy.h src/store/privacy.h src/service/retention.h \
 src/service/textmodels.h src/service/textgen.h src/engine/llm/generate.h \
 src/engine/llm/model.h src/engine/gguf.h src/engine/tensor.h \
 src/engine/llm/sampler.h src/engine/llm/template.h src/store/db.h
src/api/api.h:
src/base/err.h:
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/base/config.h:
src/base/log.h:
src/base/timeutil.h:
src/crypto/crypto.h:
src/http/http.h:
src/main_cmds.h:
src/service/accounts.h:
src/store/store.h:
src/service/app.h:
src/service/credits.h:
src/service/mail.h:
src/service/privacy.h:
src/store/privacy.h:
src/service/retention.h:
src/service/textmodels.h:
src/service/textgen.h:
src/engine/llm/generate.h:
src/engine/llm/model.h:
src/engine/gguf.h:
src/engine/tensor.h:
src/engine/llm/sampler.h:
src/engine/llm/template.h:
src/store/db.h:
