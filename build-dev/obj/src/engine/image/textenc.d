build-dev/obj/src/engine/image/textenc.o: src/engine/image/textenc.c \
 src/engine/image/textenc.h src/base/err.h src/engine/image/unet.h \
 src/engine/image/kernels.h
src/engine/image/textenc.h:
src/base/err.h:
src/engine/image/unet.h:
src/engine/image/kernels.h:
