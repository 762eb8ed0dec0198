build-dev/obj/src/store/sqlite.o: src/store/sqlite.c src/store/db.h \
 src/base/err.h src/base/embedded.h src/base/log.h src/base/timeutil.h
src/store/db.h:
src/base/err.h:
src/base/embedded.h:
src/base/log.h:
src/base/timeutil.h:
