build-dev/obj/src/engine/safetensors.o: src/engine/safetensors.c \
 src/engine/safetensors.h src/base/err.h
src/engine/safetensors.h:
src/base/err.h:
