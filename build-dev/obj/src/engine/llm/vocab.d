build-dev/obj/src/engine/llm/vocab.o: src/engine/llm/vocab.c \
 src/engine/llm/vocab.h src/base/err.h src/engine/gguf.h \
 src/engine/tensor.h src/engine/llm/tokenizer.h src/base/buf.h
src/engine/llm/vocab.h:
src/base/err.h:
src/engine/gguf.h:
src/engine/tensor.h:
src/engine/llm/tokenizer.h:
src/base/buf.h:
