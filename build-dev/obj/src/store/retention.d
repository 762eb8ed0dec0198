build-dev/obj/src/store/retention.o: src/store/retention.c \
 src/store/store.h src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
