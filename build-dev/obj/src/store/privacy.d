build-dev/obj/src/store/privacy.o: src/store/privacy.c \
 src/store/privacy.h src/base/buf.h src/store/db.h src/base/err.h \
 src/base/timeutil.h src/store/store.h
src/store/privacy.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
src/base/timeutil.h:
src/store/store.h:
