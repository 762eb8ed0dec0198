build-dev/obj/src/engine/image/image.o: src/engine/image/image.c \
 src/engine/image/image.h src/base/err.h src/engine/image/kernels.h \
 src/engine/image/scheduler.h src/engine/image/textenc.h \
 src/engine/image/unet.h src/engine/safetensors.h src/engine/threads.h
src/engine/image/image.h:
src/base/err.h:
src/engine/image/kernels.h:
src/engine/image/scheduler.h:
src/engine/image/textenc.h:
src/engine/image/unet.h:
src/engine/safetensors.h:
src/engine/threads.h:
