build-dev/obj/src/store/sessions.o: src/store/sessions.c \
 src/store/store.h src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
