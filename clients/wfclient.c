/* placeholder */
#include "wfclient.h"
