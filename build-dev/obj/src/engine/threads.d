build-dev/obj/src/engine/threads.o: src/engine/threads.c \
 src/engine/threads.h src/base/err.h
src/engine/threads.h:
src/base/err.h:
