build-dev/obj/src/service/usage.o: src/service/usage.c \
 src/service/usage.h src/base/buf.h src/base/err.h src/store/db.h \
 src/store/store.h src/base/timeutil.h
src/service/usage.h:
src/base/buf.h:
src/base/err.h:
src/store/db.h:
src/store/store.h:
src/base/timeutil.h:
