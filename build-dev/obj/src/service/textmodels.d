build-dev/obj/src/service/textmodels.o: src/service/textmodels.c \
 src/service/textmodels.h src/base/config.h src/base/err.h \
 src/service/textgen.h src/engine/llm/generate.h src/base/buf.h \
 src/engine/llm/model.h src/engine/gguf.h src/engine/tensor.h \
 src/engine/llm/sampler.h src/engine/llm/template.h src/base/log.h
src/service/textmodels.h:
src/base/config.h:
src/base/err.h:
src/service/textgen.h:
src/engine/llm/generate.h:
src/base/buf.h:
src/engine/llm/model.h:
src/engine/gguf.h:
src/engine/tensor.h:
src/engine/llm/sampler.h:
src/engine/llm/template.h:
src/base/log.h:
