build-dev/obj/src/store/credits.o: src/store/credits.c src/store/store.h \
 src/base/buf.h src/store/db.h src/base/err.h src/base/timeutil.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
src/base/timeutil.h:
