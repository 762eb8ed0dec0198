build-dev/obj/src/api/debug.o: src/api/debug.c src/api/api.h \
 src/base/err.h src/http/http.h src/base/arena.h src/base/buf.h \
 src/service/app.h src/base/config.h src/crypto/crypto.h src/store/db.h \
 src/service/receipt.h src/service/mail.h
src/api/api.h:
src/base/err.h:
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/service/receipt.h:
src/service/mail.h:
