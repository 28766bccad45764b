"""``python -m convert``: fetch rembg's model files, check them and stage the serving graphs in
the model repository; the int8 variants (``convert.quantize``) and TensorRT engines
(``convert.trt``)."""
