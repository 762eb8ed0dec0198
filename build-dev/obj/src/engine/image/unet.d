build-dev/obj/src/engine/image/unet.o: src/engine/image/unet.c \
 src/engine/image/unet.h src/base/err.h src/engine/image/kernels.h
src/engine/image/unet.h:
src/base/err.h:
src/engine/image/kernels.h:
