__version__ = "0.1.0"

from .householder import householder, reflect
from .hta import HTALayer, HTALinear, HTAResidual
from .inject import (HTAConfig, add_hta, merge_hta, set_merged, save_hta, load_hta, read_hta,
                     trainable_summary, hta_layers, set_trainable)
from .hta import batch_factors, unbatch_factors
