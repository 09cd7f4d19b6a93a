#include "system_error.hpp"
