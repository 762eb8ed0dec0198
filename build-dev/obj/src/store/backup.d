build-dev/obj/src/store/backup.o: src/store/backup.c src/store/backup.h \
 src/base/err.h src/store/db.h
src/store/backup.h:
src/base/err.h:
src/store/db.h:
