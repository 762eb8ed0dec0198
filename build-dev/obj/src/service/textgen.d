build-dev/obj/src/service/textgen.o: src/service/textgen.c \
 src/service/textgen.h src/base/err.h src/engine/llm/generate.h \
 src/base/buf.h src/engine/llm/model.h src/engine/gguf.h \
 src/engine/tensor.h src/engine/llm/sampler.h src/engine/llm/template.h \
 src/base/log.h src/engine/llm/tokenizer.h src/engine/llm/vocab.h
src/service/textgen.h:
src/base/err.h:
src/engine/llm/generate.h:
src/base/buf.h:
src/engine/llm/model.h:
src/engine/gguf.h:
src/engine/tensor.h:
src/engine/llm/sampler.h:
src/engine/llm/template.h:
src/base/log.h:
src/engine/llm/tokenizer.h:
src/engine/llm/vocab.h:
