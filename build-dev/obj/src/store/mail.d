build-dev/obj/src/store/mail.o: src/store/mail.c src/store/store.h \
 src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
