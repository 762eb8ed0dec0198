build-dev/obj/src/engine/llm/model.o: src/engine/llm/model.c \
 src/engine/llm/model.h src/base/err.h src/engine/gguf.h \
 src/engine/tensor.h src/engine/quant.h src/engine/threads.h
src/engine/llm/model.h:
src/base/err.h:
src/engine/gguf.h:
src/engine/tensor.h:
src/engine/quant.h:
src/engine/threads.h:
