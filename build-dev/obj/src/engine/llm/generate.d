build-dev/obj/src/engine/llm/generate.o: src/engine/llm/generate.c \
 src/engine/llm/generate.h src/base/buf.h src/base/err.h \
 src/engine/llm/model.h src/engine/gguf.h src/engine/tensor.h \
 src/engine/llm/sampler.h
src/engine/llm/generate.h:
src/base/buf.h:
src/base/err.h:
src/engine/llm/model.h:
src/engine/gguf.h:
src/engine/tensor.h:
src/engine/llm/sampler.h:
