def compute_metrics(journal, series, info):
    return {}
