build-dev/obj/src/engine/tensor.o: src/engine/tensor.c \
 src/engine/tensor.h
src/engine/tensor.h:
