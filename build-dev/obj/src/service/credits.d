build-dev/obj/src/service/credits.o: src/service/credits.c \
 src/service/credits.h src/base/err.h src/store/db.h src/base/log.h \
 src/base/timeutil.h src/store/store.h src/base/buf.h
src/service/credits.h:
src/base/err.h:
src/store/db.h:
src/base/log.h:
src/base/timeutil.h:
src/store/store.h:
src/base/buf.h:
