build-dev/obj/src/store/owner_keys.o: src/store/owner_keys.c \
 src/store/store.h src/base/buf.h src/store/db.h src/base/err.h \
 src/base/timeutil.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
src/base/timeutil.h:
