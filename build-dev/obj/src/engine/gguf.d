build-dev/obj/src/engine/gguf.o: src/engine/gguf.c src/engine/gguf.h \
 src/base/err.h src/engine/tensor.h
src/engine/gguf.h:
src/base/err.h:
src/engine/tensor.h:
