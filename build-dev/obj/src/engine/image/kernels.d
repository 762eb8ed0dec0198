build-dev/obj/src/engine/image/kernels.o: src/engine/image/kernels.c \
 src/engine/image/kernels.h src/base/err.h src/engine/threads.h
src/engine/image/kernels.h:
src/base/err.h:
src/engine/threads.h:
