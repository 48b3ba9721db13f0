/* placeholder */
#include "codec.h"
