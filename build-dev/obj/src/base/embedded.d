build-dev/obj/src/base/embedded.o: src/base/embedded.c \
 src/base/embedded.h
src/base/embedded.h:
