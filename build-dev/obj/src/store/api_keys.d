build-dev/obj/src/store/api_keys.o: src/store/api_keys.c \
 src/store/store.h src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
