build-dev/obj/src/store/users.o: src/store/users.c src/store/store.h \
 src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
