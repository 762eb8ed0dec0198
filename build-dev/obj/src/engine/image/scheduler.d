build-dev/obj/src/engine/image/scheduler.o: src/engine/image/scheduler.c \
 src/engine/image/scheduler.h
src/engine/image/scheduler.h:
