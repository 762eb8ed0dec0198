build-dev/obj/src/store/audit_list.o: src/store/audit_list.c \
 src/store/store.h src/base/buf.h src/store/db.h src/base/err.h
src/store/store.h:
src/base/buf.h:
src/store/db.h:
src/base/err.h:
