build-dev/obj/src/engine/llm/tokenizer.o: src/engine/llm/tokenizer.c \
 src/engine/llm/tokenizer.h src/base/buf.h src/base/err.h
src/engine/llm/tokenizer.h:
src/base/buf.h:
src/base/err.h:
