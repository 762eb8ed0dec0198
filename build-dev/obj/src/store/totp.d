build-dev/obj/src/store/totp.o: src/store/totp.c src/store/store.h \
 src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
