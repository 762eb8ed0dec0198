build-dev/obj/src/engine/llm/cli.o: src/engine/llm/cli.c src/base/buf.h \
 src/base/err.h src/engine/gguf.h src/engine/tensor.h \
 src/engine/llm/generate.h src/engine/llm/model.h \
 src/engine/llm/sampler.h src/engine/llm/template.h src/engine/quant.h \
 src/main_cmds.h src/engine/llm/tokenizer.h src/engine/llm/vocab.h
src/base/buf.h:
src/base/err.h:
src/engine/gguf.h:
src/engine/tensor.h:
src/engine/llm/generate.h:
src/engine/llm/model.h:
src/engine/llm/sampler.h:
src/engine/llm/template.h:
src/engine/quant.h:
src/main_cmds.h:
src/engine/llm/tokenizer.h:
src/engine/llm/vocab.h:
