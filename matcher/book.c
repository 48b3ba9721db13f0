/* placeholder */
#include "book.h"
