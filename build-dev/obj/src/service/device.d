build-dev/obj/src/service/device.o: src/service/device.c \
 src/service/device.h
src/service/device.h:
