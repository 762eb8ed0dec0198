build-dev/obj/src/engine/quant.o: src/engine/quant.c src/engine/quant.h \
 src/engine/tensor.h
src/engine/quant.h:
src/engine/tensor.h:
