__version__ = "0.1.0"

from .householder import householder, reflect
from .hta import HTALayer, HTALinear, HTAResidual
from .inject import (HTAConfig, add_hta, merge_hta, set_merged, save_hta, load_hta, read_hta, AdapterFile,
                     trainable_summary, hta_layers, set_trainable, param_kind, hta_params, unwrap_model,
                     disable_adapter, unload_hta, merge_adapter, unmerge_adapter, merge_and_unload)
from .hta import batch_factors, unbatch_factors
