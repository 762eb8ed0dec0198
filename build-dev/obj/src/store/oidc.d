build-dev/obj/src/store/oidc.o: src/store/oidc.c src/store/store.h \
 src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
