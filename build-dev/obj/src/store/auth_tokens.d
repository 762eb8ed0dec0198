build-dev/obj/src/store/auth_tokens.o: src/store/auth_tokens.c \
 src/store/store.h src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
